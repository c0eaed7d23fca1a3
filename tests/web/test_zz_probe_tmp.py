import pytest
from tests import factories as f
def test_probe(client, auth, app):
    f.admin(username="admin"); auth.login("admin")
    html = client.get("/water-users/").get_data(as_text=True)
    print(html[:3000])
    print(app.config.get("BABEL_TRANSLATION_DIRECTORIES"), app.root_path)
