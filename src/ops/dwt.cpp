// dwt: in progress (issue 5).
