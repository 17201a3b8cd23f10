#!/usr/bin/env bash
# Build a separate virtual environment holding the existing proprietary Datamint client
# (datamint 2.45.0 from PyPI, with its medimgkit), for differential tests against our server.
# Never install it into the project's own environment: both packages are imported as `datamint`.
#
#   usage: scripts/existing-client-venv.sh DIR      (then DIR/bin/python runs the client)
#
# tests/compat/test_existing_client.py runs it (DIR: ~/.cache/datamint-existing-client-venv, or
# $DATAMINT_EXISTING_CLIENT_VENV) and is skipped when it fails, e.g. without access to PyPI.
#
# Run the client's Python from a folder outside the project checkout: `python -c` puts the current
# folder first on sys.path, so inside the checkout it would import our package instead.
#
# On a CPU-only machine: torch is pinned to the local CPU build; torchvision's wheel registers
# fake ops for its C extension at import, which fails without that extension, so the two
# decorators in torchvision/_meta_registrations.py are made conditional.
set -euo pipefail
V=${1:?usage: existing-client-venv.sh DIR}
exec 9>"$V.lock"; flock 9
if [ -x "$V/bin/python" ] && (cd / && "$V/bin/python" -c "import datamint.dataset") 2>/dev/null; then exit 0; fi
rm -rf "$V"; python3 -m venv "$V"
"$V/bin/pip" install -q torch==2.13.0
"$V/bin/pip" install -q torchvision==0.28.0 --no-deps
c=$(mktemp); echo "torch==2.13.0" > "$c"
"$V/bin/pip" install -q -c "$c" datamint==2.45.0
rm -f "$c"
f=$("$V/bin/python" -c "import importlib.util as u;print(u.find_spec('torchvision').submodule_search_locations[0])")/_meta_registrations.py
sed -i 's/^@torch.library.register_fake("torchvision::nms")/@(torch.library.register_fake("torchvision::nms") if torchvision.extension._has_ops() else (lambda f: f))/; s/^@torch.library.register_fake("torchvision::qnms")/@(torch.library.register_fake("torchvision::qnms") if torchvision.extension._has_ops() else (lambda f: f))/' "$f"
(cd / && "$V/bin/python" -c "import datamint.dataset; print('existing client ready:', '$V')")
