from proofs.check import main

raise SystemExit(main())
