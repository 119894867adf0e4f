// prune: in progress (issue 5).
