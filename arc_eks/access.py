"""Who administers the cluster: every admin is an explicit EKS access entry, the creator too.

pulumi-eks creates its `aws:eks/cluster:Cluster` with `accessConfig.bootstrapClusterCreatorAdminPermissions`
hard-coded to true (pulumi/pulumi-eks#2373), so EKS gives whoever runs the first `pulumi up` an
admin access entry of its own. Listing that principal in `cluster.adminRoleArns` as well (the
usual case) then fails with 409 ResourceInUseException, and a bootstrap entry that no state
tracks would keep its admin rights after being removed from the list. So:

- `creator_bootstrap_off` turns the bootstrap entry off for *new* clusters (a Pulumi transform
  on the component's child cluster). An existing cluster keeps what it was created with: the
  field is ForceNew in pulumi-aws (terraform-provider-aws) and EKS cannot change it after
  creation, but pulumi-eks ignores changes to it, so no existing cluster is replaced;
- every admin, the deploying one included, is an explicit access entry from `adminRoleArns`;
- `deployer_problems` refuses a deployment by a principal that is not in `adminRoleArns`: it
  would create a cluster it cannot reach, or remove its own access entry halfway through.

See docs/operations.md ("Cluster access").
"""

from __future__ import annotations

import re

import pulumi

from arc_eks.errors import ConfigProblem

CHILD_CLUSTER_TYPE = "aws:eks/cluster:Cluster"
_BOOTSTRAP_KEY = "bootstrapClusterCreatorAdminPermissions"

# arn:aws:sts::111122223333:assumed-role/NAME/SESSION (what STS reports for a role session)
_ASSUMED_ROLE = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/.+$")
# arn:aws:iam::111122223333:role/optional/path/NAME
_ROLE = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$")


def creator_bootstrap_off(
    args: pulumi.ResourceTransformArgs,
) -> pulumi.ResourceTransformResult | None:
    """Transform for the pulumi-eks `Cluster` component: its child EKS cluster is created
    without the cluster creator's implicit admin access entry."""
    if args.type_ != CHILD_CLUSTER_TYPE:
        return None
    access = args.props.get("accessConfig")
    if not isinstance(access, dict):
        return None
    props = {**args.props, "accessConfig": {**access, _BOOTSTRAP_KEY: False}}
    return pulumi.ResourceTransformResult(props=props, opts=args.opts)


def role_of(arn: str) -> tuple[str, str] | None:
    """(account, role name) of a role ARN or of a role session's ARN; None for anything else
    (IAM users, root, federated users). A role's name is unique in its account, path or not."""
    for pattern in (_ASSUMED_ROLE, _ROLE):
        match = pattern.match(arn)
        if match:
            return match.group(2), match.group(3)
    return None


def deployer_problems(caller_arn: str, admin_role_arns: list[str]) -> list[ConfigProblem]:
    """Problems if the principal running Pulumi is not one of the cluster admins."""
    admins = {role_of(arn) for arn in admin_role_arns} - {None}
    caller = role_of(caller_arn)
    if caller is not None and caller in admins:
        return []
    if not admin_role_arns:
        expected = (
            "at least one role, including the one `pulumi up` runs as: the cluster grants "
            "admin access only to these roles (no implicit creator access)"
        )
        return [ConfigProblem("stack config", "arc-eks:cluster.adminRoleArns", "[]", expected)]
    who = (
        f"role {caller[1]!r} of account {caller[0]}"
        if caller is not None
        else f"{caller_arn} (not a role)"
    )
    return [
        ConfigProblem(
            source="stack config",
            path="arc-eks:cluster.adminRoleArns",
            value=f"{len(admin_role_arns)} role(s) without the deploying identity",
            expected=(
                f"the role `pulumi` runs as ({who}) among the admins: it deploys into the "
                "cluster and has no access there otherwise. Add its role ARN, or run as one "
                "of the listed roles"
            ),
        )
    ]
