#!/bin/sh
# Fresh secrets for one scrapeguard deployment, as KEY=VALUE lines on stdout:
#   sh deploy/new-secrets.sh > deploy/secrets.env        # docker compose (env_file)
#   sh deploy/new-secrets.sh > deploy/k8s/secrets.env    # kubectl apply -k deploy/k8s
# Each value is 32 random bytes, URL-safe base64 (44 characters): the HMAC keys and the API
# token, and a valid Fernet key for the ledger. Generate once per deployment and keep the
# file (pseudonyms, signed snapshots and sealed ledger entries depend on these keys); the
# repository ignores both paths (create it with `umask 077` first to keep it private).
# Brokers with SASL: add SCRAPEGUARD_SASL_USERNAME=... and SCRAPEGUARD_SASL_PASSWORD=... too.
set -eu
for name in SNAPSHOT_KEY CONTROL_KEY PSEUDONYM_KEY LEDGER_KEY API_TOKEN; do
  value=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')
  printf 'SCRAPEGUARD_%s=%s\n' "$name" "$value"
done
