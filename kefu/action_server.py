"""The rasa-sdk action server, with personal data masked in its logs."""
from __future__ import annotations

from kefu.pii import install

if __name__ == "__main__":
    install()
    from rasa_sdk.__main__ import main

    main()
