# The code block of seed document 000_601e7270c213a14a.txt ("Working with user
# security roles"), verbatim; tests/conformance/test_libftrack_seeds.py
# substitutes the placeholder URL and credentials only.
# --- block 1 ---
import ftrack_api
session = ftrack_api.Session(
    server_url='https://my.ftrack.server',
    api_key='my_api_key',
    api_user='my_user'
)
