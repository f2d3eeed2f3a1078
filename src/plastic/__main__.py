from plastic.cli import main

raise SystemExit(main())
