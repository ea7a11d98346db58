from backprop_grader.entry import main

raise SystemExit(main())
