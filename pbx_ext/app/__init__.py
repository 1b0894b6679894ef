"""The call-control application: what to do with each call, decided from the site."""
