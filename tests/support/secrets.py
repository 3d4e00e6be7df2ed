"""Secrets the tests plant in requests and errors, to check that no mail, log line or Sentry event shows them."""

PLANTED_PASSWORD = "planted-password-4711"
PLANTED_TOKEN = "planted-token-0815"
PLANTED_DB_PASSWORD = "planted-db-pw-1234"
PLANTED_SECRETS = (PLANTED_PASSWORD, PLANTED_TOKEN, PLANTED_DB_PASSWORD)
