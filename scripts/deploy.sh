#!/usr/bin/env bash
# Deploy (or preview) one environment: `make up STACK=dev` / `make preview STACK=dev`.
#
# - State: the local file backend by default (`pulumi login --local`, no Pulumi Cloud account);
#   set PULUMI_BACKEND_URL (e.g. s3://my-state-bucket/arc-eks) to use another backend.
# - Secrets: a new stack is created with the passphrase provider (set PULUMI_CONFIG_PASSPHRASE or
#   PULUMI_CONFIG_PASSPHRASE_FILE), or PULUMI_SECRETS_PROVIDER (e.g. awskms://alias/arc-eks).
# - Policies: always runs with the pack in policies/ and its config generated from the stack file
#   (python -m arc_eks.review.policy_config, the same generator `make review` uses) into
#   build/policy-config/<stack>.json: never a hand-kept copy of the stack's allowlists.
set -euo pipefail

action="${1:-up}"
STACK="${STACK:?set STACK, e.g. STACK=dev}"
VENV="${VENV:-.venv}"
cd "$(dirname "$0")/.."

fail() { echo "error: $*" >&2; exit 1; }

# The policy pack runs in its own virtualenv, policies/venv (PulumiPolicy.yaml), which the Pulumi
# CLI may or may not create itself depending on its version: make it here from the pinned
# policies/requirements.txt, again whenever that file changes.
prepare_policy_venv() {
  local venv=policies/venv
  if [ ! -x "$venv/bin/python" ]; then
    "$VENV/bin/python" -m venv "$venv" || fail "could not create the policy pack's virtualenv $venv"
  fi
  if ! cmp -s policies/requirements.txt "$venv/.installed-requirements.txt"; then
    "$venv/bin/python" -m pip install --quiet -r policies/requirements.txt \
      || fail "could not install policies/requirements.txt into $venv (network? see pip's output above)"
    cp policies/requirements.txt "$venv/.installed-requirements.txt"
  fi
}

command -v pulumi >/dev/null 2>&1 \
  || fail "the Pulumi CLI is not installed: https://www.pulumi.com/docs/iac/download-install/"
command -v aws >/dev/null 2>&1 \
  || fail "the AWS CLI v2 is not installed; the cluster's kubeconfig authenticates with 'aws eks get-token'"
[ -x "$VENV/bin/python" ] || fail "no virtualenv at $VENV: run 'make venv' first"

if [ -n "${PULUMI_BACKEND_URL:-}" ]; then
  pulumi login "$PULUMI_BACKEND_URL"
else
  pulumi login --local
fi

secrets_provider="${PULUMI_SECRETS_PROVIDER:-passphrase}"
if [ "$secrets_provider" = "passphrase" ] \
  && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  fail "stack secrets use a passphrase: export PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE (or PULUMI_SECRETS_PROVIDER=awskms://...)"
fi

if ! pulumi stack select "$STACK" 2>/dev/null; then
  pulumi stack init "$STACK" --secrets-provider "$secrets_provider"
fi

# Config, secrets and the account (read-only) before anything is deployed: a clear message here
# beats a failure halfway through. (After stack init, so the `pulumi config set --secret` it
# suggests works as written.) ARC_EKS_PREFLIGHT=config checks the stack and team files only.
preflight_args=(--stack "$STACK")
[ "${ARC_EKS_PREFLIGHT:-}" = "config" ] && preflight_args+=(--config-only)
"$VENV/bin/python" -m arc_eks.ops.preflight "${preflight_args[@]}"

policy_config="build/policy-config/$STACK.json"
rm -f "$policy_config"
"$VENV/bin/python" -m arc_eks.review.policy_config --stack "$STACK" --out "$policy_config" \
  || fail "could not generate the policy config of stack $STACK from stacks/Pulumi.$STACK.yaml (see above)"
prepare_policy_venv
policy_args=(--policy-pack policies --policy-pack-config "$policy_config")

case "$action" in
  up) pulumi up --stack "$STACK" "${policy_args[@]}" ;;
  preview) pulumi preview --stack "$STACK" "${policy_args[@]}" ;;
  *) fail "unknown action '$action' (up or preview)" ;;
esac
