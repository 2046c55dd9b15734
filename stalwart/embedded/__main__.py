"""``python -m stalwart.embedded DATA_DIR SOCKET IDLE_SECONDS`` runs the keeper."""

import sys

from stalwart.embedded.keeper import main

sys.exit(main(sys.argv[1:]))
