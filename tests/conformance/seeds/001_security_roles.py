# The code blocks of seed document 001_f14c173258b553a4.txt ("Working with User
# Security Roles"), verbatim and in order; tests/conformance/test_libftrack_seeds.py
# substitutes the placeholder URL, credentials, username and role name only.
# --- block 1 ---
import ftrack_api

session = ftrack_api.Session(
    server_url='https://your.ftrack.server',
    api_key='your_api_key',
    api_user='your_username'
)
# --- block 2 ---
user = session.query('User where username is "username"').one()
security_roles = user['security_roles']
for role in security_roles:
    print(role['name'])
# --- block 3 ---
role = session.query('SecurityRole where name is "RoleName"').one()
user['security_roles'].append(role)
session.commit()
# --- block 4 ---
role_to_remove = session.query('SecurityRole where name is "RoleName"').one()
user['security_roles'].remove(role_to_remove)
session.commit()
