"""The review repository as the store's full backup: age-encrypted secret copies
(``crypt``), restore from any commit (``restore``) and copy verification (``verify``)."""
