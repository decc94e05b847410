"""`forge board`: a local, read-only web view of tasks, labs and the playbook."""
