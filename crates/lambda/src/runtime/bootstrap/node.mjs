// placeholder: the Node.js runtime client (being written)
