"""The arc-eks CrossGuard policy pack. Constructing the PolicyPack starts the analyzer's gRPC
server, which never returns: this module only builds it; tests and the offline review import
`arc_policies` instead.

    python -m arc_eks.review.policy_config --stack prod --out build/policy-config/prod.json
    pulumi preview --policy-pack policies --policy-pack-config build/policy-config/prod.json

(scripts/deploy.sh, `make preview` / `make up`, runs both.)
"""

import importlib
import sys
from pathlib import Path

from pulumi_policy import PolicyPack

# The pack runs from its own directory in its own virtualenv; make its rule package importable
# however the analyzer starts this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
registry = importlib.import_module("arc_policies.registry")

PolicyPack(
    name=registry.PACK_NAME,
    enforcement_level=registry.PACK_ENFORCEMENT,
    policies=registry.build_policies(),
)
