"""channelae: autoencoders as communication links.

Data flows one way: dataset -> transmitter (encoder) -> channel -> receiver (decoder) -> metrics -> report.
Heavy modules (Sionna, LPIPS, plotting) are imported lazily by the stages that need them.
"""

__version__ = "0.1.0"
