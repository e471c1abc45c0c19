"""Marker the handoff action sends so channels with a human queue can react."""

# Sent as a custom bot message next to the handoff text. WeCom moves the
# session to its 待接入池 on it; channels that only show text ignore it.
HANDOFF_MARKER = "kefu_handoff"
