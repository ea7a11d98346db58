#!/usr/bin/env python
# coding: utf-8

# # Homework 4: Backpropagation

# In[1]:


get_ipython().run_line_magic('matplotlib', 'inline')
import numpy as np


# In[2]:


class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        z = x * y
        return z

    def backward(self, dz):
        dx = self.y * dz  # [dz/dx * dL/dz]
        dy = self.x * dz  # [dz/dy * dL/dz]
        return [dx, dy]


# In[3]:


class AddGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        dx = 1.0 * dz  # local gradient is 1
        dy = 1.0 * dz
        return [dx, dy]
