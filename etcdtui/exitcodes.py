"""Exit codes shared by every etcdtui command (Nagios convention for the checks)."""

OK = 0  # no trouble / command succeeded
WARNING = 1  # warnings only (checks) / the command failed with a one-line error (lab, replace)
CRITICAL = 2  # corruption evidence or quorum lost / a safety gate refused
UNKNOWN = 3  # could not check: bad arguments, unreadable input, unreachable cluster
