// conv2d: in progress (issue 5).
