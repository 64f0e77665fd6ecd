print("hrnet")
