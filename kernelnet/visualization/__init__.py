"""Pictures of training and of what a network sees (matplotlib, imported lazily).

Every plotting function returns the matplotlib `Figure`, saves it when given `path=`, draws into
`ax=` when given one (single-panel plots), and never blocks: `plt.show()` runs only with
`show=True`. Without a display the Agg backend is used.

- `plot_history(history)`: loss/metric curves per epoch.
- `plot_kernels(layer)`: a convolution's filters. `plot_filters` is an alias.
- `plot_feature_maps(model, image)`: what each conv/pool layer outputs for an image.
- `plot_predictions(images, probabilities)`: images with their top classes as bars.
- `plot_confusion_matrix(y_true, y_pred)`, `plot_images(x, y)`.
- `grad_cam(model, image)` -> heat map array; `plot_grad_cam(model, image)` -> Figure.
- `saliency_map(model, image)` -> `max_c |d score / d pixel|`, computed with the GradientTape.
- `intermediate_outputs(model, x, names)`: activations of any layers (no plotting).
"""

from kernelnet.visualization.gradcam import grad_cam, plot_grad_cam, saliency_map
from kernelnet.visualization.history import plot_history
from kernelnet.visualization.kernels import plot_feature_maps, plot_kernels
from kernelnet.visualization.predictions import (
    confusion_matrix,
    plot_confusion_matrix,
    plot_images,
    plot_predictions,
)
from kernelnet.visualization.probe import conv_layers, intermediate_outputs

plot_filters = plot_kernels

__all__ = ["confusion_matrix", "conv_layers", "grad_cam", "intermediate_outputs",
           "plot_confusion_matrix", "plot_feature_maps", "plot_filters", "plot_grad_cam",
           "saliency_map",
           "plot_history", "plot_images", "plot_kernels", "plot_predictions"]
