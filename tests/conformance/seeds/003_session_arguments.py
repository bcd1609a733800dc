# The code blocks of seed document 003_1a5d26e06c298a6b.txt ("Working with User
# Security Roles": initializing and authenticating a session), verbatim;
# tests/conformance/test_libftrack_seeds.py substitutes the placeholder URL,
# credentials and schema cache folder only. The seed uses Session and
# SessionAuthentication without importing them; the runner imports them first
# (from ftrack_api import Session; from ftrack_api.session import
# SessionAuthentication), as any script would.
# --- block 1 ---
session = Session(
    server_url='https://your-ftrack-server-url',
    api_key='your-api-key',
    api_user='your-username',
    auto_populate=True,
    plugin_paths=['/path/to/plugins'],
    cache=None,
    cache_key_maker=None,
    auto_connect_event_hub=True,
    schema_cache_path='/path/to/schema/cache',
    plugin_arguments={'arg1': 'value1', 'arg2': 'value2'}
)
# --- block 2 ---
auth = SessionAuthentication(api_key='your-api-key', api_user='your-username')
