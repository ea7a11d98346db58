class MultiplyGate(object):
    # double underscore so nobody outside the class touches my cache
    def forward(self, x, y):
        self.__left_operand = x
        self.__right_operand = y
        return x * y

    def backward(self, dz):
        return [self.__right_operand * dz, self.__left_operand * dz]


class AddGate(object):
    def forward(self, x, y):
        self.last_inputs_seen_by_forward = (x, y)
        self._ = x + y
        return self._

    def backward(self, dz):
        a, b = self.last_inputs_seen_by_forward
        return [dz, dz]
