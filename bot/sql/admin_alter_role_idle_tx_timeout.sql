ALTER ROLE {role} SET idle_in_transaction_session_timeout = {timeout}
