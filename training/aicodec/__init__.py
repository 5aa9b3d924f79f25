"""The AI codec's training pipelines (the weights in models/); experiments/ holds measurements that shipped nothing."""
