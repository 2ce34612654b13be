"""Install Debian's chromium for the browser tests when it is missing and we may (root, apt-get).

Run by `make test` before pytest. Playwright's own browser download does not work on our machines;
the tests drive /usr/bin/chromium. Without it (and without root to install it) the browser tests
are skipped with a message saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"
# Without a CJK font chromium draws Japanese as empty boxes in the screenshots.
CJK_FONT_DIR = "/usr/share/fonts/opentype/noto"


def main() -> int:
    packages = []
    if not os.path.exists(CHROMIUM):
        packages.append("chromium")
    if not os.path.isdir(CJK_FONT_DIR):
        packages.append("fonts-noto-cjk")
    if not packages or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return 0
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, env=env)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
