{
 "cells": [
  {
   "cell_type": "markdown",
   "id": "77300eef",
   "metadata": {},
   "source": [
    "# Homework 4: Backpropagation\n",
    "\n",
    "Implement `MultiplyGate` and `AddGate` with a `forward` that caches its inputs and a `backward` that returns the gradients with respect to each input.\n",
    "\n",
    "$f(x, y, z) = (x + y) z$"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "id": "7b3eadfc",
   "metadata": {},
   "outputs": [],
   "source": [
    "import numpy as np\n",
    "import math"
   ]
  },
  {
   "cell_type": "markdown",
   "id": "0bc047f6",
   "metadata": {},
   "source": [
    "## Multiply gate\n",
    "\n",
    "Forward caches both inputs; backward applies the chain rule:\n",
    "local gradient times upstream gradient."
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 2,
   "id": "729d4b48",
   "metadata": {},
   "outputs": [],
   "source": [
    "class MultiplyGate(object):\n",
    "    def forward(self, x, y):\n",
    "        self.x = x\n",
    "        self.y = y\n",
    "        return x * y\n",
    "\n",
    "    def backward(self, dz):\n",
    "        dx = self.y * dz\n",
    "        dy = self.x * dz\n",
    "        return [dx, dy]"
   ]
  },
  {
   "cell_type": "markdown",
   "id": "36d26762",
   "metadata": {},
   "source": [
    "## Add gate\n",
    "\n",
    "The add gate *distributes* the gradient: both local gradients are 1."
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 3,
   "id": "d6ee8472",
   "metadata": {},
   "outputs": [],
   "source": [
    "class AddGate(object):\n",
    "    def forward(self, x, y):\n",
    "        self.x = x\n",
    "        self.y = y\n",
    "        return x + y\n",
    "\n",
    "    def backward(self, dz):\n",
    "        return [dz, dz]"
   ]
  },
  {
   "cell_type": "markdown",
   "id": "80da10bf",
   "metadata": {},
   "source": [
    "## Forward pass on the lecture example"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 4,
   "id": "80397126",
   "metadata": {},
   "outputs": [
    {
     "data": {
      "text/plain": [
       "-12"
      ]
     },
     "execution_count": 4,
     "metadata": {},
     "output_type": "execute_result"
    }
   ],
   "source": [
    "x, y, z = -2, 5, -4\n",
    "add = AddGate()\n",
    "mul = MultiplyGate()\n",
    "q = add.forward(x, y)\n",
    "f = mul.forward(q, z)\n",
    "f"
   ]
  },
  {
   "cell_type": "markdown",
   "id": "419de1dc",
   "metadata": {},
   "source": [
    "## Backward pass"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 5,
   "id": "cc211181",
   "metadata": {},
   "outputs": [
    {
     "data": {
      "text/plain": [
       "(-4.0, -4.0, 3.0)"
      ]
     },
     "execution_count": 5,
     "metadata": {},
     "output_type": "execute_result"
    }
   ],
   "source": [
    "dq, dz = mul.backward(1.0)\n",
    "dx, dy = add.backward(dq)\n",
    "dx, dy, dz"
   ]
  },
  {
   "cell_type": "markdown",
   "id": "112aacb0",
   "metadata": {},
   "source": [
    "## Gradient check\n",
    "\n",
    "Compare with central differences."
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 6,
   "id": "894311b0",
   "metadata": {},
   "outputs": [
    {
     "name": "stdout",
     "output_type": "stream",
     "text": [
      "-4.000000000026205 -4.0\n"
     ]
    }
   ],
   "source": [
    "def num_grad(f, x, h=1e-5):\n",
    "    return (f(x + h) - f(x - h)) / (2 * h)\n",
    "\n",
    "print(num_grad(lambda t: (t + y) * z, x), dx)"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": null,
   "id": "57f5507a",
   "metadata": {},
   "outputs": [],
   "source": []
  }
 ],
 "metadata": {
  "kernelspec": {
   "display_name": "Python 3 (ipykernel)",
   "language": "python",
   "name": "python3"
  },
  "language_info": {
   "codemirror_mode": {
    "name": "ipython",
    "version": 3
   },
   "file_extension": ".py",
   "mimetype": "text/x-python",
   "name": "python",
   "nbconvert_exporter": "python",
   "pygments_lexer": "ipython3",
   "version": "3.11.5"
  }
 },
 "nbformat": 4,
 "nbformat_minor": 5
}
