from grader.entry import main

raise SystemExit(main())
