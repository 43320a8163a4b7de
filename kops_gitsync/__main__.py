from kops_gitsync.cli.main import main

raise SystemExit(main())
