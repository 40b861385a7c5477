// Package layers holds the trainable building blocks of HALO's networks,
// written on tensor's tape and laid out as PyTorch's, so that state dicts
// move between the two unchanged: Linear, Conv2d, ConvTranspose2d, Conv1d,
// BatchNorm1d/2d, LSTM, weight-normalised Conv1d and the temporal
// convolution block, activations and Sequential; PyTorch's initialisers;
// Adam, StepLR and gradient clipping; and state dicts as safetensors.
//
// A Module lists its tensors with PyTorch's names (Params). A Layer maps one
// tensor to one; modules with other signatures (LSTM) have their own
// Forward. Every Forward takes the tape to record on: a nil tape runs
// inference without recording.
package layers
