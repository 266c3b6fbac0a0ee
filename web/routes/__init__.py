"""HTTP routes, one module per area; `web.app.create_app` includes each router explicitly."""
