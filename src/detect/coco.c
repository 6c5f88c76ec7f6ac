/* SPDX-License-Identifier: Apache-2.0 */
/* The 80 COCO class names, in the index order of COCO-trained YOLO models,
 * spelled as Ultralytics' coco.yaml spells them (darknet's coco.names has the
 * same order with older spellings: motorbike, aeroplane, sofa, pottedplant,
 * diningtable, tvmonitor). Used when a model carries no names of its own. */
#include "cvb/detect.h"

static const char *const coco_names[CVB_COCO_N_CLASSES] = {
    "person",        "bicycle",      "car",
    "motorcycle",    "airplane",     "bus",
    "train",         "truck",        "boat",
    "traffic light", "fire hydrant", "stop sign",
    "parking meter", "bench",        "bird",
    "cat",           "dog",          "horse",
    "sheep",         "cow",          "elephant",
    "bear",          "zebra",        "giraffe",
    "backpack",      "umbrella",     "handbag",
    "tie",           "suitcase",     "frisbee",
    "skis",          "snowboard",    "sports ball",
    "kite",          "baseball bat", "baseball glove",
    "skateboard",    "surfboard",    "tennis racket",
    "bottle",        "wine glass",   "cup",
    "fork",          "knife",        "spoon",
    "bowl",          "banana",       "apple",
    "sandwich",      "orange",       "broccoli",
    "carrot",        "hot dog",      "pizza",
    "donut",         "cake",         "chair",
    "couch",         "potted plant", "bed",
    "dining table",  "toilet",       "tv",
    "laptop",        "mouse",        "remote",
    "keyboard",      "cell phone",   "microwave",
    "oven",          "toaster",      "sink",
    "refrigerator",  "book",         "clock",
    "vase",          "scissors",     "teddy bear",
    "hair drier",    "toothbrush",
};

const char *cvb_coco_class_name(int class_id) {
    if (class_id < 0 || class_id >= CVB_COCO_N_CLASSES) return NULL;
    return coco_names[class_id];
}
