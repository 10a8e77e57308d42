"""The seed paper's networks: the base network F (``base=``) and the editing network G
(``editor=``), their training (``simedit train base|editor``) and the edits G learns from."""
