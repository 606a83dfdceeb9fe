"""Scenario 3 of the documentation: gradient descent, with the optimizer as a config group.

Needs the ``examples`` extra (torch, numpy).
"""

import numpy
import torch


# This is the function that we will run under various configurations
# in order to perform our analysis.
def gradient_descent(*, starting_xy, optim, num_steps, landscape_fn):
    """
    Parameters
    ----------
    starting_xy : Tuple[float, float]
    optim : Type[torch.optim.Optimizer]
    num_steps : int
    landscape_fn : (x: Tensor, y: Tensor) -> Tensor

    Returns
    -------
    xy_trajectory: ndarray, shape-(num_steps + 1, 2)
    """
    xy = torch.tensor(starting_xy, requires_grad=True)
    trajectory = [xy.detach().clone().numpy()]

    # `optim` needs to be instantiated with
    # the tensor parameter(s) to be updated
    optim: torch.optim.Optimizer = optim([xy])

    for _ in range(num_steps):
        z = landscape_fn(*xy)
        optim.zero_grad()
        z.backward()
        optim.step()
        trajectory.append(xy.detach().clone().numpy())
    return numpy.stack(trajectory)


# defines our surface that we will be descending
def parabaloid(x, y):
    return 0.1 * x**2 + 0.2 * y**2
