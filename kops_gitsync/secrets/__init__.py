"""The content secret scanner's rules, one module per family.

``kops_gitsync.secretscan`` is the public entry point (``scan``, ``findings``); this package
holds what it runs:

* ``kops``: forms only kops produces (keyset ``privateMaterial``, ``secrets/<name>`` JSON,
  base64 of a PEM private key, data in a ``kind: Secret`` document, the cloud tokens kops
  renders into addon manifests);
* ``tokens``: well-known token formats, confirmed by detect-secrets' plugins, which are only
  imported when a cheap byte test says a candidate is present;
* ``assignments``: credentials given a name (``DB_PASSWORD=``, ``- name: X_TOKEN`` /
  ``value:``, ``Authorization: Bearer``, ``aws_secret_access_key = ...``), which no
  format-based plugin can recognise;
* ``commands``: passwords given by position (``.netrc`` entries, ``mysql -pPASS``);
* ``values``: the shape tests these share (code reference or opaque token, generated,
  chosen).

Nothing here may import the sync engine, GitPython or a cloud SDK: the hooks import it.
"""
