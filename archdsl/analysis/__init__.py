"""IR → figures and text: exact counts (count.py), reports (report.py) and the paper's
table and its reader (table.py, table_read.py). Torch-free."""
