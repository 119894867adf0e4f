// fake_quant: in progress (issue 5).
