print("hrnet: the command line is being assembled")
