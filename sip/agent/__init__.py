"""Code that runs inside an agent process (the only place that imports pjsua2)."""
