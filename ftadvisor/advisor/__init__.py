"""The cost advisor: prompt overhead, training cost, break-even, the decision engine and LoRA sizing."""
