"""One release of the example shop: ``python app.py --port PORT``.

The behaviour lives in turnout's demo app; this folder only says which release
it is (``release.toml`` beside this file). Flags on the command line override the
file, e.g. ``python app.py --port 9001 --error-rate 0.2``.
"""

import sys
from pathlib import Path

from turnout.demo.app import main

if __name__ == "__main__":
    sys.exit(main(release_file=Path(__file__).with_name("release.toml")))
