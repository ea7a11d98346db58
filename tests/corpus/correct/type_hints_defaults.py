from typing import List


class MultiplyGate:
    """z = x * y"""

    x: float = 0.0
    y: float = 0.0

    def forward(self, x: float, y: float) -> float:
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz: float = 1.0) -> List[float]:
        """Return [dL/dx, dL/dy] given dL/dz (defaults to 1 at the output)."""
        return [self.y * dz, self.x * dz]


class AddGate:
    """z = x + y"""

    def forward(self, x: float, y: float) -> float:
        return x + y

    def backward(self, dz: float = 1.0) -> List[float]:
        return [dz, dz]
