"""Single sign-on with OpenID Connect: provider presets (HelseID, ID-porten, Entra ID, generic), the
authorization code flow through Authlib, and how a signed-in person becomes a certmon user.
See docs/authentication.md."""
