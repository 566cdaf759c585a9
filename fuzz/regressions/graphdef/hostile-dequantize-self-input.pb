
6
k
Dequantizekkk*
mode	MIN_FIRST*
T0