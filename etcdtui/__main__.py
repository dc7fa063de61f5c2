from etcdtui.cli import main

raise SystemExit(main())
