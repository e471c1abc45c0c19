"""The desk's HTTP handlers, one module per resource: each parses the
request, checks permissions and calls kefu.core; refusals are raised as
kefu.core.errors.KefuError and rendered by the app's error middleware."""
