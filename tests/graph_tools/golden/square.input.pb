
;
xPlaceholder*
shape:ÿÿÿÿÿÿÿÿÿ*
dtype0

reluRelux*
T0
"
squareMulrelurelu*
T0
 
outIdentitysquare*
T0"ª