"""The analyst web dashboard: server-rendered HTML (Jinja2) in Norwegian bokmål, mounted on the API app."""
