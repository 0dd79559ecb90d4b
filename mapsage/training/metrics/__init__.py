"""MapSage's evaluation metrics (mmseg's ``METRICS`` registry) and their registry names, defined
here once. Like :mod:`mapsage.training.hooks` this module imports nothing;
:mod:`mapsage.training.plugins` registers the metrics."""

PER_CLASS_IOU_METRIC = "PerClassIoUMetric"  # .per_class_iou
CONFUSION_KEY = "confusion_matrix"  # where it leaves the confusion matrix in the message hub
